// Shared test setup: Dawn prints harmless warnings about dynamic-offset limits and XDG_RUNTIME_DIR on
// software drivers; everything else reaches the console.
