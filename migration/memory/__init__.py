"""The async memory of Tasks 4.1 and 4.2: its benchmark workload, fault scenarios and evidence."""
