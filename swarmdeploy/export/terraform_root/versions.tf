# The example root module of `swarmdeploy export terraform`: the ALB module in ./alb, fed by
# terraform.tfvars.json. Copy it into your own configuration, or apply it as it is.
terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}
