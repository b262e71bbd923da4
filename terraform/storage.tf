# The source archive: one zip (main.py, functions/, shared/, requirements.txt) that every
# function is built from. scripts/build-archive.sh builds it reproducibly, so the object name
# carries the content hash: unchanged code uploads nothing and rebuilds nothing, and a change
# gives a new object that every function is rebuilt from.

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Access logs of a bucket that only holds build inputs add nothing; Cloud Audit Logs record admin access.
  name     = "${var.project_id}-${var.name_prefix}-source"
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Terraform owns the objects; refuse to delete a bucket that still holds archives.
  force_destroy = false

  versioning {
    enabled = true
  }

  # Archives are immutable and named by hash; old ones only matter for a rollback by
  # re-applying an older commit, which rebuilds its archive anyway.
  lifecycle_rule {
    condition {
      age = 90
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket_object" "source" {
  name   = "source/cuecast-${filesha256(var.source_archive_path)}.zip"
  bucket = google_storage_bucket.source.name
  source = var.source_archive_path
}

# Function images. Cloud Functions would create `gcf-artifacts` on first deploy; owning the
# repository lets the build account write to it alone and keeps old images from piling up.
resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:Images hold only the function code and open-source dependencies, no user data; Google-managed encryption is enough and CMEK would add a key to rotate and grant.
  repository_id = "${var.name_prefix}-functions"
  location      = var.region
  format        = "DOCKER"
  description   = "Images of the cuecast functions, built by Cloud Functions from the source archive."

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "2592000s" # 30 days
    }
  }

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.artifact_keep_count
    }
  }

  depends_on = [google_project_service.enabled]
}
