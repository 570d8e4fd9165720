// The NCCL entry points the CUDA backend's communicator calls, answered by the emulated device
// over MPI between the job's processes (each rank an emulated GPU of its own): a communicator
// is a duplicate of MPI_COMM_WORLD, all-reduce and broadcast are MPI's, and a group of sends
// and receives is posted as non-blocking MPI calls completed at ncclGroupEnd. Every buffer must
// lie inside one device allocation.

#include "emulator.h"

#define OMPI_SKIP_MPICXX 1  // the C interface only
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <cstring>
#include <random>
#include <vector>

namespace {

using namespace recsys_emulator;

enum Result : int { success = 0, systemError = 2, internalError = 3, invalidArgument = 4, invalidUsage = 5 };
enum DataType : int { int8 = 0, uint8 = 1, int32 = 2, uint32 = 3, int64 = 4, uint64 = 5, float16 = 6, float32 = 7, float64 = 8, bfloat16 = 9 };

struct UniqueId {
    char internal[128];
};

struct Communicator {
    MPI_Comm world;
    int rank, size;
};

struct Transfer {
    bool send;
    void* buffer;
    size_t bytes;
    int peer;
    Communicator* communicator;
};

thread_local int groupDepth = 0;
thread_local std::vector<Transfer> pending;

size_t element_size(int type) {
    switch (type) {
    case int8: case uint8: return 1;
    case float16: case bfloat16: return 2;
    case int32: case uint32: case float32: return 4;
    case int64: case uint64: case float64: return 8;
    default: return 0;
    }
}

bool on_device(const void* buffer, size_t bytes) { return bytes == 0 || contains(reinterpret_cast<uintptr_t>(buffer), bytes); }

/// Posts every queued transfer (receives first) and waits for all of them.
int complete(std::vector<Transfer>& transfers) {
    std::vector<MPI_Request> requests;
    for (int pass = 0; pass < 2; pass++)
        for (const Transfer& t : transfers) {
            if (t.send == (pass == 0)) continue;
            MPI_Request request;
            int code = t.send ? MPI_Isend(t.buffer, static_cast<int>(t.bytes), MPI_BYTE, t.peer, 0x4E43, t.communicator->world, &request)
                              : MPI_Irecv(t.buffer, static_cast<int>(t.bytes), MPI_BYTE, t.peer, 0x4E43, t.communicator->world, &request);
            if (code != MPI_SUCCESS) return systemError;
            requests.push_back(request);
        }
    transfers.clear();
    return MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE) == MPI_SUCCESS ? success : systemError;
}

int queue(Transfer transfer) {
    if (!on_device(transfer.buffer, transfer.bytes)) return invalidArgument;
    if (transfer.peer < 0 || transfer.peer >= transfer.communicator->size) return invalidArgument;
    pending.push_back(transfer);
    if (groupDepth > 0) return success;
    return complete(pending);
}

}  // namespace

extern "C" {

int ncclGetVersion(int* version) {
    *version = 22500;
    return success;
}

const char* ncclGetErrorString(int result) {
    switch (result) {
    case success: return "no error";
    case systemError: return "unhandled system error (the emulated device's MPI call failed)";
    case invalidArgument: return "invalid argument (a buffer outside device memory, a peer outside the communicator, a type)";
    case invalidUsage: return "invalid usage (the emulated device's communicator spans MPI_COMM_WORLD, rank for rank)";
    default: return "internal error";
    }
}

int ncclGetUniqueId(UniqueId* id) {
    std::random_device device;
    for (char& byte : id->internal) byte = static_cast<char>(device());
    return success;
}

int ncclCommInitRank(Communicator** communicator, int size, UniqueId, int rank) {
    int initialised = 0, worldRank = 0, worldSize = 0;
    MPI_Initialized(&initialised);
    if (!initialised) return invalidUsage;
    MPI_Comm_rank(MPI_COMM_WORLD, &worldRank);
    MPI_Comm_size(MPI_COMM_WORLD, &worldSize);
    if (worldRank != rank || worldSize != size) return invalidUsage;
    auto* made = new Communicator{MPI_COMM_NULL, rank, size};
    if (MPI_Comm_dup(MPI_COMM_WORLD, &made->world) != MPI_SUCCESS) {
        delete made;
        return systemError;
    }
    *communicator = made;
    return success;
}

int ncclCommDestroy(Communicator* communicator) {
    MPI_Comm_free(&communicator->world);
    delete communicator;
    return success;
}

int ncclCommAbort(Communicator* communicator) {
    delete communicator;
    return success;
}

int ncclAllReduce(const void* send, void* receive, size_t count, int type, int operation, Communicator* communicator, void*) {
    if (type != float32 || operation != 0) return invalidArgument;  // ncclFloat32, ncclSum: what the backend sums
    if (!on_device(send, count * 4) || !on_device(receive, count * 4)) return invalidArgument;
    if (count == 0) return success;
    int code = MPI_Allreduce(send == receive ? MPI_IN_PLACE : send, receive, static_cast<int>(count), MPI_FLOAT, MPI_SUM,
                             communicator->world);
    return code == MPI_SUCCESS ? success : systemError;
}

int ncclBroadcast(const void* send, void* receive, size_t count, int type, int root, Communicator* communicator, void*) {
    size_t bytes = count * element_size(type);
    if (element_size(type) == 0 || !on_device(receive, bytes) || (communicator->rank == root && !on_device(send, bytes)))
        return invalidArgument;
    if (communicator->rank == root && send != receive && bytes) std::memmove(receive, send, bytes);
    if (bytes == 0) return success;
    return MPI_Bcast(receive, static_cast<int>(bytes), MPI_BYTE, root, communicator->world) == MPI_SUCCESS ? success : systemError;
}

int ncclSend(const void* buffer, size_t count, int type, int peer, Communicator* communicator, void*) {
    if (element_size(type) == 0) return invalidArgument;
    return queue(Transfer{true, const_cast<void*>(buffer), count * element_size(type), peer, communicator});
}

int ncclRecv(void* buffer, size_t count, int type, int peer, Communicator* communicator, void*) {
    if (element_size(type) == 0) return invalidArgument;
    return queue(Transfer{false, buffer, count * element_size(type), peer, communicator});
}

int ncclGroupStart() {
    groupDepth++;
    return success;
}

int ncclGroupEnd() {
    if (groupDepth == 0) return invalidUsage;
    if (--groupDepth > 0) return success;
    return complete(pending);
}

}  // extern "C"
