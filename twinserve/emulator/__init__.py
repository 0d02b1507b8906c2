"""A local AWS Lambda emulator on the real runtime client (awslambdaric).

Each execution environment is a process running `python -m awslambdaric <handler>` against a
Runtime API served here; the emulator adds Lambda's execution model around it (cold starts, one
request per environment, concurrency limit and throttling, freeze between invocations, keep-alive,
INIT and function timeouts, payload and memory limits, REPORT lines) and two front doors: an
API Gateway emulation and the Lambda Invoke API.
"""
