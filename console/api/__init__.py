"""JSON API of the console: one router per resource, all reading through the AWS APIs."""
