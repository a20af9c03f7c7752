output "dns_name" {
  description = "DNS name of the load balancer: point the site's name at it (an alias record with zone_id)."
  value       = module.alb.dns_name
}

output "zone_id" {
  description = "Route 53 hosted zone of the load balancer, for an alias record."
  value       = module.alb.zone_id
}

output "arn" {
  description = "ARN of the load balancer."
  value       = module.alb.arn
}

output "target_group_arn" {
  description = "ARN of the target group, for an Auto Scaling group that registers the hosts itself."
  value       = module.alb.target_group_arn
}
