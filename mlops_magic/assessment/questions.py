"""What no record can show (people and process): questions the user answers, stored and shown apart
from the evidence, never raising the level by themselves."""

from __future__ import annotations

# key -> (level, question), from the levels' descriptions.
QUESTIONS = {
    "standards": (1, "Does the team follow shared standards for ML work, rather than one person's habits?"),
    "engineers_deploy": (2, "Do software engineers take part in deploying the models?"),
    "cooperation": (3, "Do data scientists and software engineers work closely together on releases?"),
    "retraining_pays": (4, "Is retraining needed often enough that automating it pays for itself?"),
}
