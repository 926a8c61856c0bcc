"""The 附件二 workflow: steps per phase and site, deadlines, same-day feedback, exception paths."""
