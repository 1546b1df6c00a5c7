"""The durable job engine: confirmed actions run as jobs under a lease, their items and outcomes written to the
database before anyone is told, and taken over by another worker when the process running one dies. Free of Slack:
executors take a `JobContext`, and what must reach people goes through a `Notifier`."""
