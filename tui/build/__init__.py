"""The daemonless builder's front end: Dockerfile parser, build plan, config evaluator, context.

Entry points: `parser.parse(text)` → Dockerfile; `plan.resolve(dockerfile, target, build_args)` →
BuildPlan; `config_eval.StageEvaluator` for the metadata instructions; `shell.expand` for words;
`dockerignore.load/walk/context_digest` for the build context. Errors are DockerfileError.
"""

from imgtui.build.errors import DockerfileError

__all__ = ["DockerfileError"]
