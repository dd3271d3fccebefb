"""The activity worker: claims pending activities and runs them."""
