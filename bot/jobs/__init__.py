"""The durable job engine: confirmed actions run as jobs under a lease, their items and outcomes written to the
database before anyone is told, and taken over by another worker when the process running one dies. Free of Slack:
executors take a `JobContext`, and what must reach people goes through a `Notifier`.

- `states`: JobState, ItemState. `rows`: a job and its items as plain values. `store`: the job store (SQL).
- `context`: JobContext, RoleReading. `engine`: JobEngine (run under a lease, finish with retries), Outcome,
  Executors. `lease`: a run's hold on its job, asked for again after a stop. `items`: ItemLog. `notifier`: the
  Notifier port. `sweeper`: takeovers, intents read back, lost requests told, the bot's other sweep passes.
"""
