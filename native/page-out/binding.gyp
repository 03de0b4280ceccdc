{
  "targets": [
    {
      "target_name": "page_out",
      "sources": ["page_out.c"]
    }
  ]
}
