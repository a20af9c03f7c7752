# Rendered by swarmdeploy from profile "swarmbot-fleet": edit the profile and render again.
# An Application Load Balancer in front of the hosts' nginx: TLS policy ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09
# (intermediate), HTTP redirected to HTTPS, lb_cookie stickiness for long-polling, idle sockets kept
# open above the Engine.IO ping cycle (45 s), health checks on /healthz.

resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_76:the web ACL is the caller's (web_acl_arn); its rules, such as the Log4j AMR, are checked where it is defined
  name               = "swarmbot-fleet"
  load_balancer_type = "application"
  internal           = var.internal
  security_groups    = var.security_group_ids
  subnets            = var.subnet_ids

  # Above ping_interval + ping_timeout, or the ALB cuts idle WebSockets ("transport close").
  idle_timeout               = 3600
  enable_http2               = true
  drop_invalid_header_fields = true
  enable_deletion_protection = true

  access_logs {
    bucket  = var.access_logs_bucket
    prefix  = var.access_logs_prefix
    enabled = true
  }

  tags = var.tags
}

resource "aws_lb_target_group" "this" {
  name        = "swarmbot-fleet-tg"
  vpc_id      = var.vpc_id
  target_type = var.target_type
  port        = 443
  protocol    = "HTTPS"
  # HTTP1 is the only protocol version that carries HTTP/1.1 requests to targets, and so WebSocket upgrades.
  protocol_version = "HTTP1"
  # A host taken out keeps its open WebSockets this long before the ALB closes them.
  deregistration_delay = 300

  # The ALB's own cookie (AWSALB) pins a client to one host, so its polling requests find their session.
  stickiness {
    type            = "lb_cookie"
    cookie_duration = 86400
    enabled         = true
  }

  # A dedicated route: probing the Engine.IO handshake would open a session on every check.
  # AWS refuses a timeout that is not below the interval, or above 120 s.
  health_check {
    enabled             = true
    protocol            = "HTTPS"
    port                = "traffic-port"
    path                = "/healthz"
    matcher             = "200"
    interval            = 5
    timeout             = 4
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = var.tags
}

resource "aws_lb_target_group_attachment" "this" {
  for_each = toset(var.target_ids)

  target_group_arn = aws_lb_target_group.this.arn
  target_id        = each.value
  port             = 443

  lifecycle {
    precondition {
      condition     = var.target_type == "ip" ? can(cidrnetmask("${each.value}/32")) : can(regex("^i-[0-9a-f]{8,17}$", each.value))
      error_message = "target_ids must be EC2 instance IDs when target_type is instance, and IPv4 addresses when it is ip."
    }
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }

  tags = var.tags
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.web_acl_arn == "" ? 0 : 1

  resource_arn = aws_lb.this.arn
  web_acl_arn  = var.web_acl_arn
}
