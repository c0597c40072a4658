"""videosense redactor: redacted copies of videos."""
