# Identities and grants. Every grant is on one resource (a topic, a secret, a service, a
# bucket, a repository), never project-wide, except the build account's log writing and its
# access to the sources bucket Cloud Functions creates (conditioned to that bucket).
#
# No runtime account gets a role for Cloud Text-to-Speech: synchronous synthesis needs no IAM
# permission, only an authenticated caller in a project with the API enabled (apis.tf); the
# roles/texttospeech.* roles cover long-audio operations, which cuecast does not use. Gemini is
# reached with GEMINI_API_KEY, Supabase with DATABASE_URL and SUPABASE_SERVICE_ROLE_KEY.

# --- Service accounts -------------------------------------------------------------------

# One runtime account per function, named like the function.
resource "google_service_account" "runtime" {
  for_each = local.functions

  account_id   = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  display_name = "cuecast ${each.key} (${var.environment})"
  description  = "Runtime identity of the ${each.key} function: publishes only to its next stage, reads only its own secrets."

  depends_on = [google_project_service.enabled]
}

# Pub/Sub pushes to the workers with OIDC tokens of this account.
resource "google_service_account" "push" {
  account_id   = "${var.name_prefix}-push"
  display_name = "cuecast Pub/Sub push (${var.environment})"
  description  = "Identity of the push subscriptions: may invoke the three worker functions, nothing else."

  depends_on = [google_project_service.enabled]
}

# Cloud Scheduler calls reconcile with OIDC tokens of this account.
resource "google_service_account" "scheduler" {
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "cuecast scheduler (${var.environment})"
  description  = "Identity of the reconcile Cloud Scheduler job: may invoke reconcile, nothing else."

  depends_on = [google_project_service.enabled]
}

# Cloud Functions builds each function with Cloud Build as this account (instead of the
# project's default compute account, which new projects no longer grant build rights).
resource "google_service_account" "build" {
  account_id   = "${var.name_prefix}-build"
  display_name = "cuecast function builds (${var.environment})"
  description  = "Cloud Build identity of the function builds: reads the source, writes images and build logs."

  depends_on = [google_project_service.enabled]
}

# --- Per function: the topics it publishes to, the secrets it reads ----------------------
# The publish lists are shared/stages.py's FUNCTIONS[...].publishes and the secret lists
# follow Settings.required_for under the production selection; tests/contract
# fails when either side changes alone.

# webhook publishes start-analysis (uploads) and ssml (edits); reads DATABASE_URL and
# WEBHOOK_SECRET.
resource "google_pubsub_topic_iam_member" "webhook" {
  for_each = toset(["start-analysis", "ssml"])

  topic  = google_pubsub_topic.stage[each.value].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.runtime["webhook"].member
}

resource "google_secret_manager_secret_iam_member" "webhook" {
  for_each = toset(local.functions["webhook"].secrets)

  secret_id = google_secret_manager_secret.this[each.value].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime["webhook"].member
}

# start_analysis publishes ssml; reads the database, Storage and Gemini secrets.
resource "google_pubsub_topic_iam_member" "start_analysis" {
  for_each = toset(["ssml"])

  topic  = google_pubsub_topic.stage[each.value].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.runtime["start_analysis"].member
}

resource "google_secret_manager_secret_iam_member" "start_analysis" {
  for_each = toset(local.functions["start_analysis"].secrets)

  secret_id = google_secret_manager_secret.this[each.value].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime["start_analysis"].member
}

# ssml publishes audio; reads the database and Gemini secrets.
resource "google_pubsub_topic_iam_member" "ssml" {
  for_each = toset(["audio"])

  topic  = google_pubsub_topic.stage[each.value].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.runtime["ssml"].member
}

resource "google_secret_manager_secret_iam_member" "ssml" {
  for_each = toset(local.functions["ssml"].secrets)

  secret_id = google_secret_manager_secret.this[each.value].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime["ssml"].member
}

# audio is the last stage: it publishes nothing; reads the database and Storage secrets.
resource "google_secret_manager_secret_iam_member" "audio" {
  for_each = toset(local.functions["audio"].secrets)

  secret_id = google_secret_manager_secret.this[each.value].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime["audio"].member
}

# reconcile republishes any stage; reads the database and Storage secrets.
resource "google_pubsub_topic_iam_member" "reconcile" {
  for_each = toset(["start-analysis", "ssml", "audio"])

  topic  = google_pubsub_topic.stage[each.value].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.runtime["reconcile"].member
}

resource "google_secret_manager_secret_iam_member" "reconcile" {
  for_each = toset(local.functions["reconcile"].secrets)

  secret_id = google_secret_manager_secret.this[each.value].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime["reconcile"].member
}

# --- Who may call which function ---------------------------------------------------------
# A 2nd gen function is a Cloud Run service of the same name; invoking it is run.invoker on
# that service.

resource "google_cloud_run_service_iam_member" "push_invokes_worker" {
  for_each = local.workers

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.fn[each.value].name
  role     = "roles/run.invoker"
  member   = google_service_account.push.member
}

resource "google_cloud_run_service_iam_member" "scheduler_invokes_reconcile" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.fn["reconcile"].name
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}

resource "google_cloud_run_service_iam_member" "webhook_is_public" {
  #checkov:skip=CKV_GCP_102:The webhook must be callable by Supabase's pg_net, which cannot mint Google identity tokens; the function rejects any request without the WEBHOOK_SECRET header, and it is the only public function.
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.fn["webhook"].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Projects created before 8 April 2021 need this for Pub/Sub to mint the push tokens; it is
# harmless elsewhere and limited to the push account.
resource "google_service_account_iam_member" "pubsub_mints_push_tokens" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# --- The build account ------------------------------------------------------------------

resource "google_project_iam_member" "build_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.build.member
}

# Cloud Functions copies the archive into its own gcf-v2-sources-<number>-<region> bucket and
# the build reads it from there (and caches in it); the condition keeps the grant to that bucket.
resource "google_project_iam_member" "build_function_sources" {
  project = var.project_id
  role    = "roles/storage.objectAdmin"
  member  = google_service_account.build.member

  condition {
    title       = "gcf-v2-sources-only"
    description = "Only the bucket Cloud Functions keeps function sources in."
    expression  = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-${data.google_project.this.number}-\")"
  }
}

resource "google_storage_bucket_iam_member" "build_reads_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

resource "google_artifact_registry_repository_iam_member" "build" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}
