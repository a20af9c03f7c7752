provider "aws" {
  region = var.region
}

# Everything the profile owns (timeouts, stickiness, TLS policy, health check, ports) is rendered
# into ./alb: change the profile and export again. What AWS provides comes in as variables.
module "alb" {
  source = "./alb"

  vpc_id             = var.vpc_id
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids
  internal           = var.internal
  certificate_arn    = var.certificate_arn
  access_logs_bucket = var.access_logs_bucket
  target_type        = var.target_type
  target_ids         = var.target_ids
  web_acl_arn        = var.web_acl_arn
  tags               = var.tags
}
