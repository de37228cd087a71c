"""The CloudFormation template that makes what push_setup makes, for accounts where changes go
through CloudFormation. It shares push_setup's values (pattern, attributes, policy), so the
two never disagree. JSON is valid CloudFormation; no AWS call is made to build it.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sqs-queuepolicy.html
"""

from __future__ import annotations

from typing import Any

from registrations.push import (
    DLQ_RETENTION,
    EVENT_PATTERN,
    MAX_RECEIVE_COUNT,
    QUEUE_RETENTION,
    TARGET_ID,
    VISIBILITY_TIMEOUT,
    push_queue_name,
    queue_policy,
)


def push_template(*, source_name: str, queue_name: str = "") -> dict[str, Any]:
    """A CloudFormation template: dead-letter queue, queue, rule, queue policy and target;
    its output QueueUrl is the source's queue_url."""
    name = push_queue_name(source_name=source_name, queue_name=queue_name)
    policy = queue_policy(queue_arn="QUEUE_ARN", rule_arn="RULE_ARN")
    statement = policy["Statement"][0]
    statement["Resource"] = {"Fn::GetAtt": ["Queue", "Arn"]}
    statement["Condition"]["ArnEquals"]["aws:SourceArn"] = {"Fn::GetAtt": ["Rule", "Arn"]}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"CodeDeploy events on an SQS queue for codedeploy-notifier (source "
        f"{source_name}): EventBridge rule -> queue, with a dead-letter queue",
        "Resources": {
            "DeadLetterQueue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"QueueName": f"{name}-dlq", "MessageRetentionPeriod": DLQ_RETENTION},
            },
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "QueueName": name,
                    "VisibilityTimeout": VISIBILITY_TIMEOUT,
                    "MessageRetentionPeriod": QUEUE_RETENTION,
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
                        "maxReceiveCount": MAX_RECEIVE_COUNT,
                    },
                },
            },
            "Rule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Name": name,
                    "Description": f"CodeDeploy events for codedeploy-notifier (source "
                    f"{source_name})",
                    "EventBusName": "default",
                    "EventPattern": EVENT_PATTERN,
                    "State": "ENABLED",
                    "Targets": [{"Id": TARGET_ID, "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}],
                },
            },
            "QueuePolicy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {"Queues": [{"Ref": "Queue"}], "PolicyDocument": policy},
            },
        },
        "Outputs": {
            "QueueUrl": {
                "Description": f"Give this as source {source_name}'s queue_url (admin or API)",
                "Value": {"Ref": "Queue"},
            }
        },
    }
