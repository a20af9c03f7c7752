"""`swarmdeploy verify`: prove a deployment works end to end, and name the fix for what does not."""
