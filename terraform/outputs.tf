output "webhook_url" {
  description = "URL of the webhook function: store it in Supabase Vault as cuecast_webhook_url (docs/deploy.md)."
  value       = google_cloudfunctions2_function.fn["webhook"].url
}

output "topics" {
  description = "Stage -> Pub/Sub topic name (`cuecast replay` publishes here)."
  value       = { for stage, topic in google_pubsub_topic.stage : stage => topic.name }
}

output "dead_letter_topics" {
  description = "Stage -> dead-letter topic name."
  value       = { for stage, topic in google_pubsub_topic.dead_letter : stage => topic.name }
}

output "dead_letter_subscriptions" {
  description = "Stage -> pull subscription holding that stage's dead letters."
  value       = { for stage, sub in google_pubsub_subscription.dead_letter : stage => sub.name }
}

output "functions" {
  description = "Entry point -> deployed function name."
  value       = { for entry_point, fn in google_cloudfunctions2_function.fn : entry_point => fn.name }
}

output "secret_ids" {
  description = "Environment variable -> Secret Manager secret id; add versions with `gcloud secrets versions add <id> --data-file=-`."
  value       = { for env, secret in google_secret_manager_secret.this : env => secret.secret_id }
}

output "runtime_service_accounts" {
  description = "Entry point -> runtime service account email."
  value       = { for entry_point, sa in google_service_account.runtime : entry_point => sa.email }
}

output "source_object" {
  description = "The uploaded source archive (its name carries the archive's SHA-256)."
  value       = "gs://${google_storage_bucket.source.name}/${google_storage_bucket_object.source.name}"
}
