// Open MPI through a minimal binding: libmpi.so.40 is loaded at run time (only when asked for) and its C functions are
// called through function pointers. Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are the addresses of
// exported objects (ompi_mpi_comm_world, ...); MPICH uses integer constants instead and would need its own class.
using System.Runtime.InteropServices;

namespace ResidualLM.Distributed;

/// <summary>
/// <see cref="ICommunicator"/> over Open MPI's MPI_COMM_WORLD. One per process: MPI is initialised once and finalised
/// by <see cref="Dispose"/>.
/// </summary>
public sealed unsafe class OpenMpiCommunicator : ICommunicator
{
    const string Library = "libmpi.so.40";
    const string InstallHint = "install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi3; Fedora: dnf install openmpi) and start the ranks with mpirun -np N";
    static readonly void* InPlace = (void*)1;   // MPI_IN_PLACE in Open MPI's mpi.h

    readonly nint library;
    readonly nint world, floatType, doubleType, byteType, sumOp;
    readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> allreduce;
    readonly delegate* unmanaged<void*, int, nint, int, nint, int> bcast;
    readonly delegate* unmanaged<nint, int> barrier;
    readonly delegate* unmanaged<nint, int, int> abort;
    readonly delegate* unmanaged<int> finalize;
    readonly delegate* unmanaged<int*, int> finalized;
    bool disposed;

    public int Rank { get; }
    public int Size { get; }
    public bool AnyThread { get; }

    const int ThreadSerialized = 2;   // MPI_THREAD_SERIALIZED (SINGLE 0, FUNNELED 1, SERIALIZED 2, MULTIPLE 3)

    OpenMpiCommunicator(nint library)
    {
        this.library = library;
        nint Export(string name) => NativeLibrary.TryGetExport(library, name, out nint address) ? address
            : throw new InvalidInputException($"{Library} has no symbol {name}: it is not Open MPI 4 or later ({InstallHint})", field: "--distributed");
        world = Export("ompi_mpi_comm_world");
        floatType = Export("ompi_mpi_float");
        doubleType = Export("ompi_mpi_double");
        byteType = Export("ompi_mpi_byte");
        sumOp = Export("ompi_mpi_op_sum");
        var init = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread");
        var initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        var rank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        var size = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Allreduce");
        bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Export("MPI_Bcast");
        barrier = (delegate* unmanaged<nint, int>)Export("MPI_Barrier");
        abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
        finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        finalized = (delegate* unmanaged<int*, int>)Export("MPI_Finalized");

        int flag = 0;
        Check(initialized(&flag), "MPI_Initialized");
        int provided = ThreadSerialized;
        if (flag == 0) Check(init(null, null, ThreadSerialized, &provided), "MPI_Init_thread");
        else
        {
            var query = (delegate* unmanaged<int*, int>)Export("MPI_Query_thread");
            Check(query(&provided), "MPI_Query_thread");
        }
        AnyThread = provided >= ThreadSerialized;
        int r = 0, s = 0;
        Check(rank(world, &r), "MPI_Comm_rank");
        Check(size(world, &s), "MPI_Comm_size");
        Rank = r;
        Size = s;
    }

    /// <summary>Loads Open MPI and initialises it (MPI_Init_thread, asking for MPI_THREAD_SERIALIZED); started alone, without mpirun, it is a job of one rank.</summary>
    /// <exception cref="InvalidInputException">libmpi.so.40 cannot be loaded or is not Open MPI; the message says how to install it.</exception>
    public static OpenMpiCommunicator Initialize()
    {
        if (!NativeLibrary.TryLoad(Library, out nint handle))
            throw new InvalidInputException($"cannot load {Library} ({InstallHint})", field: "--distributed");
        return new OpenMpiCommunicator(handle);
    }

    public void AllReduceSum(Span<float> values)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        fixed (float* p = values) Check(allreduce(InPlace, p, values.Length, floatType, sumOp, world), "MPI_Allreduce");
    }

    public void AllReduceSum(Span<double> values)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        fixed (double* p = values) Check(allreduce(InPlace, p, values.Length, doubleType, sumOp, world), "MPI_Allreduce");
    }

    public void Broadcast(Span<byte> buffer, int root = 0)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        fixed (byte* p = buffer) Check(bcast(p, buffer.Length, byteType, root, world), "MPI_Bcast");
    }

    public void Barrier()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        Check(barrier(world), "MPI_Barrier");
    }

    public void Abort(string message, int exitCode = 1)
    {
        Console.Error.WriteLine(message);
        Console.Error.Flush();
        abort(world, exitCode);
        Environment.Exit(exitCode);   // MPI_Abort does not return; in case an implementation does
    }

    /// <summary>MPI_Finalize (once; every rank must call it before it exits normally).</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        int done = 0;
        if (finalized(&done) == 0 && done == 0) finalize();
    }

    // Open MPI's default error handler aborts the job on an error; a non-zero code gets here only with another handler.
    static void Check(int code, string function)
    {
        if (code != 0) throw new InvalidOperationException($"{function} failed with MPI error {code}");
    }
}
