# Rendered by swarmdeploy from profile "swarmbot-fleet": edit the profile and render again.
terraform {
  # 1.5: strcontains() in the variables' validation blocks.
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}
