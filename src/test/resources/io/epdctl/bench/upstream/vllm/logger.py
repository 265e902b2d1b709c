"""Stand-in for vllm.logger: init_logger as vLLM's for a logger outside the "vllm" namespace (the script's own,
named __main__): a plain logging.getLogger, with no handler of its own, so warnings and errors go to stderr
through logging's last resort and nothing else is printed, as under vLLM."""
import logging


def init_logger(name):
    return logging.getLogger(name)
