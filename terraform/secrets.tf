# Secret Manager secrets. Terraform creates the secrets and who may read them; it never sees
# a value. Versions are added out of band (docs/deploy.md), e.g.
#   printf %s "$DATABASE_URL" | gcloud secrets versions add cuecast-database-url --data-file=-
# so no secret is in this code, in a tfvars file or in the Terraform state.
#
# The keys are the environment variable names the functions read (shared/settings.py); each
# function mounts only the ones it needs (local.functions[*].secrets in functions.tf).

locals {
  secrets = {
    DATABASE_URL              = "Postgres URL of the Supabase transaction pooler (port 6543), with the password."
    SUPABASE_SERVICE_ROLE_KEY = "Supabase service-role key: Storage reads of raw videos and writes of audio."
    GEMINI_API_KEY            = "Gemini API key (Google AI Studio) for analysis and SSML."
    WEBHOOK_SECRET            = "Shared secret the Supabase database webhook sends; also stored in Supabase Vault as cuecast_webhook_secret."
  }
}

resource "google_secret_manager_secret" "this" {
  for_each = local.secrets

  secret_id = "${var.name_prefix}-${lower(replace(each.key, "_", "-"))}"
  annotations = {
    description = each.value
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}
