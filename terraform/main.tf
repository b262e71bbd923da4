provider "google" {
  project = var.project_id
  region  = var.region

  # Every resource that takes labels gets these (functions, topics, subscriptions, secrets,
  # bucket, repository), so cost reports and queries can split by app and environment.
  default_labels = local.labels
}

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  labels = merge(var.labels, {
    app         = "cuecast"
    environment = var.environment
    managed-by  = "terraform"
  })

  # Pub/Sub's service agent: it writes to dead-letter topics and acknowledges on the source
  # subscriptions, and mints the push subscriptions' OIDC tokens.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # Plain (non-secret) environment of every function. One archive serves all five functions
  # and every function reads the same settings (shared/settings.py); what a function may do
  # with them is limited by its service account, not by hiding names from it. The adapter
  # selections are the production ones: Supabase Storage, Pub/Sub, Gemini, Cloud TTS.
  runtime_env = {
    CUECAST_STORAGE              = "supabase"
    CUECAST_PUBLISHER            = "pubsub"
    CUECAST_ANALYZER             = "gemini"
    CUECAST_SSML                 = "gemini"
    CUECAST_TTS                  = "google"
    GOOGLE_CLOUD_PROJECT         = var.project_id
    SUPABASE_URL                 = var.supabase_url
    CUECAST_TOPIC_START_ANALYSIS = var.topics["start-analysis"]
    CUECAST_TOPIC_SSML           = var.topics["ssml"]
    CUECAST_TOPIC_AUDIO          = var.topics["audio"]
    CUECAST_MAX_ATTEMPTS         = tostring(var.job_max_attempts)
    CUECAST_LEASE_SECONDS        = tostring(local.lease_seconds)
  }
}
