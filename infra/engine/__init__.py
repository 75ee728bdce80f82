"""The Pulumi side: the program every way in runs, the offline plan, and the stack operations
(`up`, `down`, `status`, `gc`) through the Automation API."""
