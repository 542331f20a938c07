"""Reading: any source -> standard columns, read by the engine, each column mapped once."""
