"""The dialogue engine: pure functions over plain data. It knows no provider, no
Flask, no database; the intake gives it a `Backend` to store and look things up."""
from hotline.engine.config import DialogueConfig, Flow, LineInfo, Question, load_dialogue
from hotline.engine.dialogue import Backend, Draft, Engine, Reply

__all__ = ["Backend", "DialogueConfig", "Draft", "Engine", "Flow", "LineInfo", "Question", "Reply", "load_dialogue"]
