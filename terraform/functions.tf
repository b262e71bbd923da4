# One google_cloudfunctions2_function per entry point of main.py (the FUNCTIONS of
# shared/stages.py), all built from the same source archive. The map keys ARE the entry
# points; tests/contract holds them, the secrets and the topics to the code.
#
# Sizing notes that apply to all of them:
# - available_cpu = "1": a 2nd gen function serves more than one request per instance only
#   with at least one whole vCPU, and a full CPU also shortens Python cold starts.
# - Every instance opens up to CUECAST_DB_POOL_MAX_SIZE (4) connections to the Supabase
#   transaction pooler, so the max_instances below cap the database clients at
#   4 x (10 + 5 + 10 + 10 + 1) = 144, within the pooler's client limit; requests beyond an
#   instance's pool wait for a connection instead of opening more.
# - Workers (start_analysis, ssml, audio) are fed by push subscriptions (pubsub.tf), whose
#   ack deadline is the function timeout plus a margin, at most Pub/Sub's 600 s; so every
#   worker timeout stays below 570 s.
locals {
  functions = {
    webhook = {
      description = "Supabase database webhook and manual starts: resolves the analysis job and publishes it to start-analysis; publishes an edited item to ssml."
      # The only public function: Supabase's pg_net calls it from outside Google Cloud. The
      # WEBHOOK_SECRET header check in the code is what protects it.
      ingress = "ALLOW_ALL"
      # One database lookup and one publish: the runtime and its clients fit in 512 MiB.
      memory = "512Mi"
      cpu    = "1"
      # pg_net abandons the call after a few seconds anyway; nothing here should run long.
      timeout = 60
      # Short I/O-bound requests: one instance serves many uploads finishing at once.
      concurrency = 16
      # 0 in staging; 1 in production so no cold start sits inside pg_net's timeout.
      min_instances = var.min_instances["webhook"]
      # Bursts of uploads; the webhook only enqueues, so ten instances is plenty.
      max_instances = 10
      secrets       = ["DATABASE_URL", "WEBHOOK_SECRET"]
    }
    start_analysis = {
      description = "Analyses a video with Gemini into feedback items, then publishes one ssml message per item."
      # Reached only by its Pub/Sub push subscription (Pub/Sub in the same project counts as
      # internal traffic) and guarded by run.invoker for the push account.
      ingress = "ALLOW_INTERNAL_ONLY"
      # The video is streamed to Gemini in chunks, never held whole; 1 GiB leaves room for
      # the upload buffers and the structured response of a long video.
      memory = "1Gi"
      cpu    = "1"
      # A Gemini upload plus analysis of a few minutes of video takes minutes; 540 s is the
      # longest that fits under the push subscription's 600 s ack deadline.
      timeout = 540
      # Mostly waiting on Gemini, but each analysis holds large buffers: four per instance.
      concurrency   = 4
      min_instances = var.min_instances["start_analysis"]
      # Caps concurrent Gemini analyses at 5 x 4 = 20, under the API key's rate limits.
      max_instances = 5
      secrets       = ["DATABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "GEMINI_API_KEY"]
    }
    ssml = {
      description = "Writes the SSML segments of one feedback item (Gemini, checked against an allowlist), then publishes it to audio."
      ingress     = "ALLOW_INTERNAL_ONLY"
      # Text in, text out: 512 MiB.
      memory = "512Mi"
      cpu    = "1"
      # One Gemini text call plus database writes; 300 s covers a slow model answer.
      timeout = 300
      # I/O-bound and small: eight items per instance.
      concurrency   = 8
      min_instances = var.min_instances["ssml"]
      # An analysis fans out into many items; 10 x 8 = 80 in flight drains a video quickly.
      max_instances = 10
      secrets       = ["DATABASE_URL", "GEMINI_API_KEY"]
    }
    audio = {
      description = "Synthesises each SSML segment of one item with Cloud Text-to-Speech and uploads the audio to Supabase Storage."
      ingress     = "ALLOW_INTERNAL_ONLY"
      # Segments are at most 5,000 bytes of SSML; their MP3s are small: 512 MiB.
      memory = "512Mi"
      cpu    = "1"
      # Several TTS calls and uploads per item: 300 s.
      timeout = 300
      # I/O-bound: eight items per instance.
      concurrency   = 8
      min_instances = var.min_instances["audio"]
      # 10 x 8 = 80 concurrent syntheses stays within the default TTS request quota.
      max_instances = 10
      secrets       = ["DATABASE_URL", "SUPABASE_SERVICE_ROLE_KEY"]
    }
    reconcile = {
      description = "Every minute (Cloud Scheduler): republishes due queued jobs, reclaims expired leases, fails jobs out of attempts."
      # Called only by Cloud Scheduler (internal traffic in the same project).
      ingress = "ALLOW_INTERNAL_ONLY"
      # A few bounded queries and publishes: 512 MiB.
      memory = "512Mi"
      cpu    = "1"
      # Must finish well inside its one-minute cadence, with room for a slow database.
      timeout = 120
      # One run at a time on one instance: runs never overlap (the queries are safe if they
      # did, SKIP LOCKED, but there is nothing to gain).
      concurrency   = 1
      min_instances = var.min_instances["reconcile"]
      max_instances = 1
      secrets       = ["DATABASE_URL", "SUPABASE_SERVICE_ROLE_KEY"]
    }
  }

  # Stage (topic key) -> the worker function its push subscription feeds.
  workers = {
    "start-analysis" = "start_analysis"
    "ssml"           = "ssml"
    "audio"          = "audio"
  }

  # A job's lease must outlive any run that holds it, or the reconciler would hand a job that
  # is still being worked on to a second worker.
  lease_seconds = 600
}

check "lease_outlives_every_function" {
  assert {
    condition     = alltrue([for f in local.functions : f.timeout < local.lease_seconds])
    error_message = "CUECAST_LEASE_SECONDS (local.lease_seconds) must exceed every function timeout."
  }
}

resource "google_cloudfunctions2_function" "fn" {
  #checkov:skip=CKV_GCP_124:Only the webhook has ALLOW_ALL ingress (Supabase calls it from outside Google Cloud; its shared secret guards it); every other function is ALLOW_INTERNAL_ONLY, which tests/contract enforces per function since this skip covers all instances.
  for_each = local.functions

  name        = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  location    = var.region
  description = each.value.description

  build_config {
    runtime           = var.runtime
    entry_point       = each.key
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout
    max_instance_request_concurrency = each.value.concurrency
    min_instance_count               = each.value.min_instances
    max_instance_count               = each.value.max_instances
    ingress_settings                 = each.value.ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.runtime[each.key].email

    environment_variables = local.runtime_env

    # "latest": a new secret version reaches new instances; to roll it out everywhere at
    # once, redeploy (docs/deploy.md).
    dynamic "secret_environment_variables" {
      for_each = toset(each.value.secrets)
      content {
        key        = secret_environment_variables.value
        project_id = var.project_id
        secret     = google_secret_manager_secret.this[secret_environment_variables.value].secret_id
        version    = "latest"
      }
    }
  }

  depends_on = [
    google_project_service.enabled,
    # A revision that cannot read its secrets or whose build cannot run fails to deploy.
    google_secret_manager_secret_iam_member.webhook,
    google_secret_manager_secret_iam_member.start_analysis,
    google_secret_manager_secret_iam_member.ssml,
    google_secret_manager_secret_iam_member.audio,
    google_secret_manager_secret_iam_member.reconcile,
    google_project_iam_member.build_logs,
    google_project_iam_member.build_function_sources,
    google_storage_bucket_iam_member.build_reads_source,
    google_artifact_registry_repository_iam_member.build,
  ]
}
