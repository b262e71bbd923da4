terraform {
  # 1.9+: variable validations may refer to other variables.
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    google = {
      source = "hashicorp/google"
      # Pinned exactly: a provider upgrade is a reviewed change (bump here, re-run
      # `terraform init -upgrade`, commit .terraform.lock.hcl), never a side effect of a plan.
      version = "6.36.1"
    }
  }

  # State lives in a GCS bucket chosen at init time, one prefix per environment:
  #   terraform init -backend-config="bucket=<state-bucket>" -backend-config="prefix=cuecast/<env>"
  # (docs/deploy.md). Nothing about the backend is hard-coded here.
  backend "gcs" {}
}
