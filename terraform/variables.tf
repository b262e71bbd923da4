variable "project_id" {
  description = "Google Cloud project that hosts this environment (one project per environment is recommended)."
  type        = string
}

variable "region" {
  description = "Region of the functions, the Cloud Scheduler job, the Artifact Registry repository and the source bucket."
  type        = string
  default     = "europe-west1"
}

variable "environment" {
  description = "Environment name; becomes the `environment` label on every labelled resource."
  type        = string

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be \"staging\" or \"production\"."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (functions, service accounts, secrets, bucket). Change it only to run two environments in one project."
  type        = string
  default     = "cuecast"

  validation {
    # Service account ids are 6-30 characters; the longest suffix used is "-start-analysis" (15).
    condition     = can(regex("^[a-z][a-z0-9-]{2,14}$", var.name_prefix))
    error_message = "name_prefix must be 3-15 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "labels" {
  description = "Extra labels applied to every labelled resource (merged with app, environment and managed-by)."
  type        = map(string)
  default     = {}
}

variable "source_archive_path" {
  description = "Path (relative to terraform/) of the source archive built by scripts/build-archive.sh. Its SHA-256 names the uploaded object, so unchanged code deploys nothing."
  type        = string
  default     = "../build/cuecast-source.zip"
}

variable "runtime" {
  description = "Cloud Functions Python runtime; the code targets Python 3.11+."
  type        = string
  default     = "python311"

  validation {
    condition     = contains(["python311", "python312"], var.runtime)
    error_message = "runtime must be python311 or python312."
  }
}

variable "topics" {
  description = "Pub/Sub topic name per pipeline stage (keys are shared.domain.Stage values). The same names reach the functions as CUECAST_TOPIC_*; the defaults equal the defaults in shared/settings.py."
  type        = map(string)
  default = {
    "start-analysis" = "cuecast-start-analysis"
    "ssml"           = "cuecast-ssml"
    "audio"          = "cuecast-audio"
  }

  validation {
    condition     = length(var.topics) == 3 && alltrue([for stage in ["start-analysis", "ssml", "audio"] : contains(keys(var.topics), stage)])
    error_message = "topics must have exactly the keys start-analysis, ssml and audio."
  }
}

variable "max_delivery_attempts" {
  description = "Pub/Sub deliveries of one message before it goes to the stage's dead-letter topic (5-100). Keep it above job_max_attempts: a message for a job that is not yet due is redelivered too."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (Pub/Sub's limits)."
  }
}

variable "job_max_attempts" {
  description = "Attempts a job gets in the database before it is failed (CUECAST_MAX_ATTEMPTS)."
  type        = number
  default     = 5

  validation {
    condition     = var.job_max_attempts >= 1 && var.job_max_attempts < var.max_delivery_attempts
    error_message = "job_max_attempts must be at least 1 and below max_delivery_attempts."
  }
}

variable "supabase_url" {
  description = "The Supabase project URL, https://<ref>.supabase.co. Not a secret (the app ships it); the service-role key is a Secret Manager secret."
  type        = string

  validation {
    condition     = can(regex("^https://", var.supabase_url))
    error_message = "supabase_url must be an https:// URL."
  }
}

variable "min_instances" {
  description = "Warm instances per function (keys: webhook, start_analysis, ssml, audio, reconcile). 0 scales to zero: the first request after idle pays a cold start (bench/README.md, \"Cold starts\"). 1 for the webhook in production: Supabase's pg_net gives up after a few seconds. docs/deploy.md has what a warm instance costs and saves."
  type        = map(number)
  default = {
    webhook        = 0
    start_analysis = 0
    ssml           = 0
    audio          = 0
    reconcile      = 0
  }

  validation {
    condition     = length(var.min_instances) == 5 && alltrue([for f in ["webhook", "start_analysis", "ssml", "audio", "reconcile"] : contains(keys(var.min_instances), f)]) && alltrue([for n in values(var.min_instances) : n >= 0 && n <= 5])
    error_message = "min_instances needs exactly the five functions (webhook, start_analysis, ssml, audio, reconcile), each 0-5."
  }
}

variable "reconcile_schedule" {
  description = "Cron schedule of the reconcile job (Cloud Scheduler)."
  type        = string
  default     = "* * * * *"
}

variable "reconcile_paused" {
  description = "Pause the reconcile job. true while adopting a live database (docs/rollout.md): until the app is switched, nothing may ring the jobs that uploads create."
  type        = bool
  default     = false
}

variable "artifact_keep_count" {
  description = "Function images kept per function in the Artifact Registry repository (older ones are deleted); rollback by redeploy needs only the source archive."
  type        = number
  default     = 10
}

# --- Alerts (monitoring.tf) --------------------------------------------------------------

variable "alert_notification_channels" {
  description = "Cloud Monitoring notification channel ids (projects/<p>/notificationChannels/<id>) every alert policy notifies. Empty: the policies still open incidents in the console, but nobody is told."
  type        = list(string)
  default     = []
}

variable "alert_oldest_queued_seconds" {
  description = "Alert when a stage's oldest due queued job has waited longer than this. 900 s: a lost doorbell is rung within the grace and a sweep (about 2 minutes) and a retry waits at most 300 s, so a quarter of an hour means the stage is not draining."
  type        = number
  default     = 900
}

variable "alert_oldest_unacked_seconds" {
  description = "Alert when a push subscription's oldest unacknowledged message is older than this. 1200 s: Pub/Sub's redelivery backoff tops out at 600 s, so twice that means deliveries keep failing (or the function is down) rather than one slow retry."
  type        = number
  default     = 1200
}

variable "alert_function_5xx_per_minute" {
  description = "Alert when a function answers more than this many 5xx per minute, over 5 minutes. Planned redeliveries are 429 and permanent failures are acknowledged, so a 5xx is an unexpected exception or a crash: 1 a minute, sustained, is already wrong."
  type        = number
  default     = 1
}
