"""APIs the codec can read but this broker does not serve, and the error each is answered with.

They are left out of ApiVersions, so a client that checks it never sends them. One that sends
anyway gets UNSUPPORTED_VERSION (35) in the API's own response, rather than the dropped connection
Kafka gives for an API it does not know, so it can say what is missing. DescribeQuorum needs a KRaft
metadata quorum, which a single logbroker node does not have; it comes with the cluster work.
"""

from __future__ import annotations

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.handlers import Body

_NO_QUORUM = "This broker has no KRaft metadata quorum to describe."

# api key -> the response body sent for any request to it
NOT_SERVED: dict[int, Body] = {
    ApiKey.DESCRIBE_QUORUM: {"error_code": ErrorCode.UNSUPPORTED_VERSION, "error_message": _NO_QUORUM,
                             "topics": [], "nodes": []},
}
