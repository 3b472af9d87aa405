"""The recurrent zoo: cells, sequence layers, models, tasks, training loop and the `minigrad` command."""
