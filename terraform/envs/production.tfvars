# Production: its own project and state prefix (cuecast/production). project_id comes from
# the command line or Cloud Build (-var=project_id=...); secrets come from Secret Manager.
environment  = "production"
region       = "europe-west1"
supabase_url = "https://your-production-ref.supabase.co"

# One warm webhook instance: pg_net's call should never wait for a cold start.
min_instances = {
  webhook        = 1
  start_analysis = 0
  ssml           = 0
  audio          = 0
  reconcile      = 0
}
