# What an operator is told, and what they can act on (docs/deploy.md, "Alerts").
#
# The reconcile function logs one structured line per stage every sweep
# (shared/services/reconciler.py: message "stage gauges", fields stage, queued, processing,
# failed, oldest_queued_s); the log-based metrics below read those lines, and
# tests/contract holds their filters and fields to the code. Pub/Sub and Cloud Run metrics
# cover what the database cannot see: dead letters, unacknowledged deliveries, 5xx answers.

locals {
  gauges_filter = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${var.name_prefix}-reconcile\" AND jsonPayload.logger=\"cuecast.reconcile\" AND jsonPayload.message=\"stage gauges\""
  # Log-based metrics from the gauges line: the field each one extracts, its unit.
  gauges = {
    oldest_queued_seconds = { field = "oldest_queued_s", unit = "s", what = "Age of the stage's oldest due queued job" }
    queued_jobs           = { field = "queued", unit = "1", what = "Queued jobs of the stage" }
    failed_jobs           = { field = "failed", unit = "1", what = "Failed jobs of the stage" }
  }
}

resource "google_logging_metric" "gauge" {
  for_each = local.gauges

  name        = "${var.name_prefix}/${each.key}"
  description = "${each.value.what}, from the reconcile function's \"stage gauges\" log line (every sweep)."
  filter      = local.gauges_filter

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = each.value.unit

    labels {
      key         = "stage"
      value_type  = "STRING"
      description = "The pipeline stage: start-analysis, ssml or audio."
    }
  }

  value_extractor  = "EXTRACT(jsonPayload.${each.value.field})"
  label_extractors = { stage = "EXTRACT(jsonPayload.stage)" }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 24
      growth_factor      = 2
      scale              = 1
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "oldest_queued" {
  display_name = "${var.name_prefix}: a stage is not draining (oldest queued job > ${var.alert_oldest_queued_seconds} s)"
  combiner     = "OR"

  conditions {
    display_name = "oldest due queued job, per stage"

    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.gauge["oldest_queued_seconds"].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_oldest_queued_seconds
      duration        = "300s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_PERCENTILE_99"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["metric.label.stage"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A stage's oldest due queued job has waited longer than the threshold. Look at `cuecast status` (queued, processing, failures), the stage function's errors, and its push subscription's backlog; docs/operations.md has what to run."
  }

  notification_channels = var.alert_notification_channels
  user_labels           = local.labels
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name = "${var.name_prefix}: messages in a dead-letter subscription"
  combiner     = "OR"

  conditions {
    display_name = "undelivered messages in any *-dead-letter subscription"

    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.labels.subscription_id=one_of(${join(", ", [for s in google_pubsub_subscription.dead_letter : "\"${s.name}\""])})"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.labels.subscription_id"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A doorbell was delivered max_delivery_attempts times without an answer and was dead-lettered. The job is still in its table: `cuecast status`, then `cuecast replay` (docs/operations.md); `gcloud pubsub subscriptions pull <name>-dead-letter` shows the messages."
  }

  notification_channels = var.alert_notification_channels
  user_labels           = local.labels
}

resource "google_monitoring_alert_policy" "oldest_unacked" {
  display_name = "${var.name_prefix}: deliveries keep failing (oldest unacked message > ${var.alert_oldest_unacked_seconds} s)"
  combiner     = "OR"

  conditions {
    display_name = "oldest unacknowledged message on a push subscription"

    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.labels.subscription_id=one_of(${join(", ", [for s in google_pubsub_subscription.push : "\"${s.name}\""])})"
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_oldest_unacked_seconds
      duration        = "300s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.labels.subscription_id"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A stage function has not acknowledged a delivery for longer than the threshold: it fails or is down. Check its errors in Cloud Logging and `cuecast status`."
  }

  notification_channels = var.alert_notification_channels
  user_labels           = local.labels
}

resource "google_monitoring_alert_policy" "function_errors" {
  display_name = "${var.name_prefix}: a function answers 5xx (> ${var.alert_function_5xx_per_minute} a minute)"
  combiner     = "OR"

  conditions {
    display_name = "5xx answers per function"

    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"run.googleapis.com/request_count\" AND metric.labels.response_code_class=\"5xx\" AND resource.labels.service_name=one_of(${join(", ", [for f in google_cloudfunctions2_function.fn : "\"${f.name}\""])})"
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_function_5xx_per_minute / 60
      duration        = "300s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A function answered 5xx: an unexpected exception or a crash (planned redeliveries are 429, permanent failures are acknowledged). Its ERROR entries in Cloud Logging carry the traceback."
  }

  notification_channels = var.alert_notification_channels
  user_labels           = local.labels
}
