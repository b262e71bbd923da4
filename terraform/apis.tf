locals {
  apis = toset([
    "artifactregistry.googleapis.com",     # function images
    "cloudbuild.googleapis.com",           # Cloud Functions builds the source with Cloud Build
    "cloudfunctions.googleapis.com",       # the five functions
    "cloudresourcemanager.googleapis.com", # data.google_project (project number)
    "cloudscheduler.googleapis.com",       # reconcile every minute
    "iam.googleapis.com",                  # service accounts
    "logging.googleapis.com",              # function and build logs, log-based metrics
    "monitoring.googleapis.com",           # alert policies (monitoring.tf)
    "pubsub.googleapis.com",               # stage topics, subscriptions, dead letters
    "run.googleapis.com",                  # 2nd gen functions run on Cloud Run
    "secretmanager.googleapis.com",        # DATABASE_URL and the other secrets
    "storage.googleapis.com",              # the source archive bucket
    "texttospeech.googleapis.com",         # the audio stage (CUECAST_TTS=google)
  ])
}

resource "google_project_service" "enabled" {
  for_each = local.apis

  project = var.project_id
  service = each.value
  # Other things in the project may use these APIs; destroying cuecast must not turn them off.
  disable_on_destroy = false
}
