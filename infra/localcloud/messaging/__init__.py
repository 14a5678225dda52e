"""Messages the local cloud delivers on AWS's behalf: SNS subscriptions, EventBridge rule targets and
the events AWS services emit (Step Functions status changes, CloudWatch alarm state changes).

Every delivery runs on a :class:`~.workqueue.WorkQueue`, never on the API request that caused it,
so Publish and PutEvents answer at once, as on AWS, and a slow or broken endpoint blocks nothing.
"""
