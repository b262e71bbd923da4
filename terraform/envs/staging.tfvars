# Staging: its own project and state prefix (cuecast/staging). project_id comes from the
# command line or Cloud Build (-var=project_id=...); secrets come from Secret Manager.
environment  = "staging"
region       = "europe-west1"
supabase_url = "https://your-staging-ref.supabase.co"

# Scale to zero when idle; a cold webhook only delays the start of a staging run.
min_instances = {
  webhook        = 0
  start_analysis = 0
  ssml           = 0
  audio          = 0
  reconcile      = 0
}
