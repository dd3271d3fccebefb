"""The cron scheduler: due crons become `environment.cron` activities."""
