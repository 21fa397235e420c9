"""What a compiled Arazzo workflow needs at run time, inside its functions: runtime
expressions, criteria that Step Functions cannot evaluate, and a generic HTTP operation."""
