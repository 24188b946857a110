// The few collective operations data-parallel training needs, behind one small interface: a single process (no-ops)
// or Open MPI (OpenMpiCommunicator). MPI handles never leave the implementation, so MPICH could be added beside it.
using System.Text.Json.Serialization;

namespace ResidualLM.Distributed;

/// <summary>
/// A group of <see cref="Size"/> cooperating processes, this one being <see cref="Rank"/>. Every collective call must be
/// made by all ranks in the same order with buffers of the same length; a rank that cannot go on calls
/// <see cref="Abort"/> so the others do not wait forever.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's index, 0 to <see cref="Size"/> - 1.</summary>
    int Rank { get; }

    /// <summary>Number of processes.</summary>
    int Size { get; }

    /// <summary>
    /// Whether collectives may be called from a thread other than the one that created the communicator, one thread at
    /// a time (MPI_THREAD_SERIALIZED): what overlapping the gradient all-reduce with backward needs.
    /// </summary>
    bool AnyThread { get; }

    /// <summary>Replaces every element of <paramref name="values"/> by its sum over all ranks (the same result on every rank).</summary>
    void AllReduceSum(Span<float> values);

    /// <inheritdoc cref="AllReduceSum(Span{float})"/>
    void AllReduceSum(Span<double> values);

    /// <summary>Copies rank <paramref name="root"/>'s bytes into <paramref name="buffer"/> on every other rank.</summary>
    void Broadcast(Span<byte> buffer, int root = 0);

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();

    /// <summary>Writes <paramref name="message"/> to stderr and ends every rank of the job with <paramref name="exitCode"/>; does not return.</summary>
    void Abort(string message, int exitCode = 1);
}

/// <summary>One process alone: rank 0 of 1, every collective a no-op. Never loads an MPI library.</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    /// <summary>The one instance (it holds no state).</summary>
    public static readonly SingleProcessCommunicator Instance = new();

    public int Rank => 0;
    public int Size => 1;
    public bool AnyThread => true;
    public void AllReduceSum(Span<float> values) { }
    public void AllReduceSum(Span<double> values) { }
    public void Broadcast(Span<byte> buffer, int root = 0) => ArgumentOutOfRangeException.ThrowIfNotEqual(root, 0);
    public void Barrier() { }

    public void Abort(string message, int exitCode = 1)
    {
        Console.Error.WriteLine(message);
        Environment.Exit(exitCode);
    }

    public void Dispose() { }
}

/// <summary>How the processes of a training run talk to each other.</summary>
public enum DistributedKind
{
    /// <summary>One process (the default).</summary>
    [JsonStringEnumMemberName("none")] None,

    /// <summary>Open MPI: start the ranks with <c>mpirun -np N</c>.</summary>
    [JsonStringEnumMemberName("mpi")] Mpi,
}

/// <summary>Creates the communicator of a <see cref="DistributedKind"/>.</summary>
public static class Communicators
{
    /// <summary>
    /// The communicator for <paramref name="kind"/>: <see cref="SingleProcessCommunicator.Instance"/> for
    /// <see cref="DistributedKind.None"/>; for <see cref="DistributedKind.Mpi"/>, Open MPI initialised (loaded now, at
    /// run time; <see cref="InvalidInputException"/> saying how to install it when absent).
    /// </summary>
    public static ICommunicator Create(DistributedKind kind) => kind switch
    {
        DistributedKind.None => SingleProcessCommunicator.Instance,
        DistributedKind.Mpi => OpenMpiCommunicator.Initialize(),
        _ => throw new InvalidInputException($"is not a distributed backend ({(int)kind})", field: "Distributed"),
    };
}
