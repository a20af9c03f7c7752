# Passed to ./alb as they are: the module validates each (see alb/variables.tf), so a placeholder
# left in terraform.tfvars.json fails the plan with the module's message.

variable "region" {
  description = "The AWS region of the load balancer and the hosts, such as eu-west-1."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name, such as eu-west-1."
  }
}

variable "vpc_id" {
  description = "The VPC of the hosts and the load balancer."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the load balancer, in at least two Availability Zones."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the load balancer (1 to 5)."
  type        = list(string)
}

variable "internal" {
  description = "true for a load balancer reachable only inside the VPC."
  type        = bool
  default     = false
}

variable "certificate_arn" {
  description = "ARN of the ACM (or IAM) certificate for the profile's server names."
  type        = string
}

variable "access_logs_bucket" {
  description = "S3 bucket for the access logs."
  type        = string
}

variable "target_type" {
  description = "instance (EC2 instance IDs in target_ids) or ip (IPv4 addresses)."
  type        = string
  default     = "instance"
}

variable "target_ids" {
  description = "The hosts: EC2 instance IDs, or IPv4 addresses with target_type ip; empty when an Auto Scaling group registers them."
  type        = list(string)
}

variable "web_acl_arn" {
  description = "ARN of a regional WAFv2 web ACL to associate; empty for none."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
