"""`--cloud local`: this machine as a runner, with the same startup script as cloud machines."""
