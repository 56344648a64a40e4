"""An archive of videos and images processed in one resumable run: `agegender process INPUT... --out-dir DIR`.

inputs.py finds the files; manifest.py records, in DIR, what is finished; task.py processes one input to
its files; engines.py runs the tasks in this process, in worker processes, or on a Ray cluster;
tables.py and report.py turn the finished inputs into the run's tables and its HTML report
(docs/archive.md)."""
