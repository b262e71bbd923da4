# Pub/Sub: one topic per stage, each with a dead-letter topic. A function's own event trigger
# cannot dead-letter, so each worker is fed by a push subscription of ours instead: OIDC token
# of the push account, exponential backoff, and after var.max_delivery_attempts deliveries the
# message moves to the dead-letter topic, whose pull subscription keeps it for inspection and
# replay. Messages are doorbells (ids only); the job tables hold the truth, and the reconciler
# finds any job whose message was dead-lettered.

resource "google_pubsub_topic" "stage" {
  #checkov:skip=CKV_GCP_83:Messages carry only job ids (no user data); Google-managed encryption is enough and a CMEK would add a key to rotate and grant to the Pub/Sub agent.
  for_each = var.topics

  name = each.value

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Dead letters carry only job ids, like their source topics; Google-managed encryption is enough.
  for_each = var.topics

  name = "${each.value}-dead-letter"

  depends_on = [google_project_service.enabled]
}

# Nothing dead-lettered is lost: this subscription holds every dead letter for 7 days (the
# maximum). `cuecast replay` republishes the jobs; `gcloud pubsub subscriptions pull` shows them.
resource "google_pubsub_subscription" "dead_letter" {
  for_each = var.topics

  name  = "${each.value}-dead-letter"
  topic = google_pubsub_topic.dead_letter[each.key].id

  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  # Never delete the subscription for inactivity (the default is after 31 idle days).
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "push" {
  for_each = local.workers

  name  = "${var.topics[each.key]}-push"
  topic = google_pubsub_topic.stage[each.key].id

  # How long Pub/Sub waits for the function's answer before it redelivers: the function's
  # timeout plus a margin, within Pub/Sub's 600 s limit.
  ack_deadline_seconds       = min(600, local.functions[each.value].timeout + 30)
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }

  push_config {
    # The run.app URL: Pub/Sub in the same project counts as internal traffic there, so the
    # worker keeps ingress ALLOW_INTERNAL_ONLY. functions-framework turns the push body into
    # the same Pub/Sub CloudEvent an Eventarc trigger would deliver.
    push_endpoint = google_cloudfunctions2_function.fn[each.value].service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = google_cloudfunctions2_function.fn[each.value].service_config[0].uri
    }
  }

  # A raised exception (HTTP 500) is redelivered with exponential backoff. The database's due
  # time is the backoff that counts; this one only spaces out redeliveries.
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_cloud_run_service_iam_member.push_invokes_worker,
  ]
}

# The Pub/Sub service agent moves undeliverable messages: it must publish to the dead-letter
# topics and subscribe (acknowledge) on the source subscriptions.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = var.topics

  topic  = google_pubsub_topic.dead_letter[each.key].name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.workers

  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
