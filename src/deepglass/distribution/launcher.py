"""What a launcher (`torchrun`, or Keras's `KERAS_DISTRIBUTION_*` variables) tells a process about its run.

`torchrun --nproc-per-node N script.py` starts N copies of the script and gives each `RANK` (its number in the
whole run), `WORLD_SIZE` (how many processes the run has), `LOCAL_RANK` and `LOCAL_WORLD_SIZE` (the same on its
machine), and `MASTER_ADDR` / `MASTER_PORT` (where the processes meet). A process started without them is a run
of one.
"""
import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class LaunchEnvironment:
    """One process's place in a multi-process run, as its launcher described it.

    Attributes:
        rank: the process's number in the run, from 0 to `world_size - 1`; rank 0 prints and writes files.
        world_size: the number of processes in the run.
        local_rank: the process's number on its machine (it picks the GPU `cuda:<local_rank>`).
        local_world_size: the number of processes on its machine.
        master_addr, master_port: where the processes meet (rank 0's machine, or torchrun's store).
        restart_count: how many times torchrun has restarted the run's processes (`--max-restarts`).
        agent_store: whether torchrun's agent hosts the meeting point (so no process starts one itself).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    master_addr: str = None
    master_port: int = None
    restart_count: int = 0
    agent_store: bool = False

    @classmethod
    def from_environ(cls, environ=None):
        """The launch environment of this process (`os.environ` by default); a run of one when none is set."""
        environ = os.environ if environ is None else environ
        if "WORLD_SIZE" not in environ and "RANK" not in environ:
            return cls()
        rank = _integer(environ, "RANK", None)
        world_size = _integer(environ, "WORLD_SIZE", None)
        if rank is None or world_size is None:
            missing = "RANK" if rank is None else "WORLD_SIZE"
            raise ValueError(f"The environment sets {'WORLD_SIZE' if rank is None else 'RANK'} but not {missing}; "
                             "launch with `torchrun --nproc-per-node N script.py`, which sets both (and "
                             "LOCAL_RANK, MASTER_ADDR, MASTER_PORT).")
        local_rank = _integer(environ, "LOCAL_RANK", rank)
        local_world_size = _integer(environ, "LOCAL_WORLD_SIZE", world_size)
        port = _integer(environ, "MASTER_PORT", None)
        return cls(rank, world_size, local_rank, local_world_size, environ.get("MASTER_ADDR"), port,
                   _integer(environ, "TORCHELASTIC_RESTART_COUNT", 0),
                   environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True").validated()

    @classmethod
    def from_arguments(cls, job_addresses, num_processes, process_id, environ=None):
        """Keras's `initialize(job_addresses, num_processes, process_id)` arguments (or its `KERAS_DISTRIBUTION_*`
        variables), completed from the torchrun variables for what they leave out."""
        environ = os.environ if environ is None else environ
        base = cls.from_environ(environ)
        job_addresses = job_addresses or environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
        if num_processes is None and "KERAS_DISTRIBUTION_NUM_PROCESSES" in environ:
            num_processes = _integer(environ, "KERAS_DISTRIBUTION_NUM_PROCESSES", None)
        if process_id is None and "KERAS_DISTRIBUTION_PROCESS_ID" in environ:
            process_id = _integer(environ, "KERAS_DISTRIBUTION_PROCESS_ID", None)
        changes = {}  # without LOCAL_RANK / LOCAL_WORLD_SIZE, every process is taken to run on one machine
        if num_processes is not None:
            changes.update(world_size=int(num_processes),
                           local_world_size=_integer(environ, "LOCAL_WORLD_SIZE", int(num_processes)))
        if process_id is not None:
            changes.update(rank=int(process_id), local_rank=_integer(environ, "LOCAL_RANK", int(process_id)))
        if job_addresses:
            host, _, port = job_addresses.split(",")[0].strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError("job_addresses must start with the address of process 0 as `host:port`, e.g. "
                                 f"'10.0.0.1:29500,10.0.0.2:29500'. Received: job_addresses={job_addresses!r}")
            changes.update(master_addr=host, master_port=int(port), agent_store=False)
        return dataclasses.replace(base, **changes).validated()

    def validated(self):
        """This environment, after checking that its numbers fit together (errors name the rank)."""
        if self.world_size < 1:
            raise ValueError(f"WORLD_SIZE must be at least 1; received WORLD_SIZE={self.world_size} (rank "
                             f"{self.rank}).")
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"Rank {self.rank} does not fit in a run of WORLD_SIZE={self.world_size} processes "
                             f"(ranks go from 0 to {self.world_size - 1}); launch every process with the same "
                             "WORLD_SIZE, e.g. with torchrun.")
        if not 0 <= self.local_rank < self.local_world_size:
            raise ValueError(f"Rank {self.rank} has LOCAL_RANK={self.local_rank}, which does not fit in "
                             f"LOCAL_WORLD_SIZE={self.local_world_size} processes on its machine.")
        if self.world_size > 1 and (not self.master_addr or self.master_port is None):
            raise ValueError(f"Rank {self.rank} of {self.world_size} does not know where the processes meet: set "
                             "MASTER_ADDR and MASTER_PORT (torchrun sets them), or pass job_addresses='host:port' "
                             "to deepglass.distribution.initialize().")
        return self


def _integer(environ, name, default):
    value = environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"The environment variable {name} must be an integer; received {name}={value!r}.") \
            from None
