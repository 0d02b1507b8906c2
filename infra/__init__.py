"""The CDK app: FunctionStack (Lambda + API Gateway) and ServiceStack (Fargate + ALB)."""
