# reconcile every minute: republishes due queued jobs whose doorbell may have been lost,
# reclaims expired leases, fails jobs out of attempts. The job's OIDC token is minted for the
# scheduler account, which may invoke reconcile and nothing else.
resource "google_cloud_scheduler_job" "reconcile" {
  name        = "${var.name_prefix}-reconcile"
  region      = var.region
  description = "Runs the cuecast reconciler (${var.environment})."
  schedule    = var.reconcile_schedule
  time_zone   = "Etc/UTC"
  paused      = var.reconcile_paused

  # Longer than the function's timeout, so Scheduler records the real outcome.
  attempt_deadline = "${local.functions["reconcile"].timeout + 60}s"

  # No retries: the next run is a minute away and does the same work.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.fn["reconcile"].service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.fn["reconcile"].service_config[0].uri
    }
  }

  depends_on = [
    google_project_service.enabled,
    google_cloud_run_service_iam_member.scheduler_invokes_reconcile,
  ]
}
