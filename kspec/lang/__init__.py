"""Stages read and parse: YAML with positions (`loader`), `--set` and `${vars}` (`expand`), the Pydantic models of
the document (`spec`, `data_spec`, `train_spec`) and the JSON Schema generated from them (`schema`). No Keras."""
