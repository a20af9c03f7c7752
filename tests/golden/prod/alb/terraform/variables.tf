# Rendered by swarmdeploy from profile "swarmbot": edit the profile and render again.
# What the AWS account provides. Everything the profile owns (timeouts, stickiness, TLS policy,
# health check, ports, names) is rendered into main.tf instead: change those in the profile.

variable "vpc_id" {
  description = "The VPC of the hosts and the load balancer, such as vpc-0123456789abcdef0."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID: vpc- followed by 8 or 17 hexadecimal digits."
  }
}

variable "subnet_ids" {
  description = "Subnets the load balancer lives in, in at least two Availability Zones (public subnets unless internal is true)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "An Application Load Balancer needs subnets in at least two Availability Zones."
  }

  validation {
    condition     = alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))])
    error_message = "Every subnet_ids entry must be a subnet ID: subnet- followed by 8 or 17 hexadecimal digits."
  }
}

variable "security_group_ids" {
  description = "Security groups of the load balancer: allow 443 and 80 from clients, and 443 out to the hosts' security group."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) >= 1 && length(var.security_group_ids) <= 5
    error_message = "An Application Load Balancer takes 1 to 5 security groups."
  }

  validation {
    condition     = alltrue([for id in var.security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))])
    error_message = "Every security_group_ids entry must be a security group ID: sg- followed by 8 or 17 hexadecimal digits."
  }
}

variable "internal" {
  description = "true for a load balancer reachable only inside the VPC; false (default) for an internet-facing one."
  type        = bool
  default     = false
}

variable "certificate_arn" {
  description = "ARN of the ACM (or IAM) certificate the HTTPS listener presents for dashboard.example.com."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:(acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}|iam::[0-9]{12}:server-certificate/.+)$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/UUID) or an IAM server certificate ARN."
  }
}

variable "access_logs_bucket" {
  description = "S3 bucket for the access logs; its bucket policy must let Elastic Load Balancing write to it."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_logs_bucket))
    error_message = "access_logs_bucket must be an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens."
  }
}

variable "access_logs_prefix" {
  description = "Prefix of the access log objects in the bucket."
  type        = string
  default     = "swarmbot"

  validation {
    condition     = !strcontains(var.access_logs_prefix, "AWSLogs") && !startswith(var.access_logs_prefix, "/") && !endswith(var.access_logs_prefix, "/")
    error_message = "access_logs_prefix must not contain AWSLogs (Elastic Load Balancing adds it) nor start or end with /."
  }
}

variable "target_type" {
  description = "How target_ids name the hosts: instance (EC2 instance IDs, the AWS default) or ip (private IPv4 addresses)."
  type        = string
  default     = "instance"

  validation {
    condition     = contains(["instance", "ip"], var.target_type)
    error_message = "target_type must be instance or ip."
  }
}

variable "target_ids" {
  description = "The hosts running nginx and the instances: EC2 instance IDs, or IPv4 addresses with target_type ip. Empty when an Auto Scaling group registers them with target_group_arn."
  type        = list(string)

  validation {
    condition     = alltrue([for id in var.target_ids : can(regex("^i-[0-9a-f]{8,17}$", id)) || can(cidrnetmask("${id}/32"))])
    error_message = "Every target_ids entry must be an EC2 instance ID (i-...) or an IPv4 address."
  }
}

variable "web_acl_arn" {
  description = "ARN of a regional WAFv2 web ACL to associate with the load balancer; empty for none."
  type        = string
  default     = ""

  validation {
    condition     = var.web_acl_arn == "" || can(regex("^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/.+$", var.web_acl_arn))
    error_message = "web_acl_arn must be empty or a regional WAFv2 web ACL ARN (arn:aws:wafv2:REGION:ACCOUNT:regional/webacl/NAME/ID)."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(var.tags) <= 50 && alltrue([for key, value in var.tags : length(key) <= 128 && length(value) <= 256 && !startswith(key, "aws:")])
    error_message = "AWS allows 50 tags per resource, keys of at most 128 characters not starting with aws:, values of at most 256."
  }
}
