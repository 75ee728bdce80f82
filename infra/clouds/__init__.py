"""One module per cloud, each exporting a runner component with the same constructor."""
