/* The few NVML types and constants wattprof uses, declared here so that building needs no
 * nvml.h (NVML is loaded with dlopen at run time). Layouts follow nvml.h of CUDA 13; the
 * fake library in tests/fake_nvml implements the same ABI. */
#ifndef WP_NVML_ABI_H
#define WP_NVML_ABI_H

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;

enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_NO_DATA = 21,
    NVML_ERROR_UNKNOWN = 999,
};

/* nvmlDeviceGetSamples sample types */
#define NVML_TOTAL_POWER_SAMPLES     0
#define NVML_GPU_UTILIZATION_SAMPLES 1

/* nvmlValueType_t */
enum {
    NVML_VALUE_TYPE_DOUBLE = 0,
    NVML_VALUE_TYPE_UNSIGNED_INT = 1,
    NVML_VALUE_TYPE_UNSIGNED_LONG = 2,
    NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3,
    NVML_VALUE_TYPE_SIGNED_LONG_LONG = 4,
    NVML_VALUE_TYPE_SIGNED_INT = 5,
};

typedef union {
    double dVal;
    int siVal;
    unsigned int uiVal;
    unsigned long ulVal;
    unsigned long long ullVal;
    signed long long sllVal;
    unsigned short usVal;
} nvmlValue_t;

typedef struct {
    unsigned long long timeStamp; /* microseconds since the Unix epoch */
    nvmlValue_t sampleValue;
} nvmlSample_t;

typedef struct {
    unsigned int fieldId;
    unsigned int scopeId;
    long long timestamp; /* microseconds since the Unix epoch */
    long long latencyUsec;
    int valueType;
    nvmlReturn_t nvmlReturn;
    nvmlValue_t value;
} nvmlFieldValue_t;

typedef struct {
    unsigned int gpu;    /* % */
    unsigned int memory; /* % */
} nvmlUtilization_t;

/* One process's utilisation over a driver sampling period (nvmlDeviceGetProcessUtilization). */
typedef struct {
    unsigned int pid;
    unsigned long long timeStamp; /* microseconds since the Unix epoch */
    unsigned int smUtil;          /* % of the period an SM ran this process's kernels */
    unsigned int memUtil;
    unsigned int encUtil;
    unsigned int decUtil;
} nvmlProcessUtilizationSample_t;

/* nvmlProcessInfo_v2_t, which nvmlDeviceGetComputeRunningProcesses_v3 fills. Instance ids are
 * 0xFFFFFFFF when the GPU is not split by MIG. */
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory; /* bytes */
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_t;

/* Field ids (nvml.h) */
#define NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION 83  /* mJ */
#define NVML_FI_DEV_POWER_AVERAGE            185 /* mW, 1 s average */
#define NVML_FI_DEV_POWER_INSTANT            186 /* mW */
#define NVML_FI_DEV_POWER_MIN_LIMIT          187
#define NVML_FI_DEV_POWER_MAX_LIMIT          188
#define NVML_FI_DEV_POWER_DEFAULT_LIMIT      189
#define NVML_FI_DEV_POWER_CURRENT_LIMIT      190

/* scopeId for power fields */
#define NVML_POWER_SCOPE_GPU    0
#define NVML_POWER_SCOPE_MODULE 1
#define NVML_POWER_SCOPE_MEMORY 2

/* nvmlClockType_t / nvmlTemperatureSensors_t */
#define NVML_CLOCK_SM        1
#define NVML_TEMPERATURE_GPU 0

#define NVML_DEVICE_UUID_V2_BUFFER_SIZE        96
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE        96
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80

/* Function signatures, named by the symbol wattprof resolves. */
typedef nvmlReturn_t (*nvmlInit_v2_fn)(void);
typedef nvmlReturn_t (*nvmlShutdown_fn)(void);
typedef const char *(*nvmlErrorString_fn)(nvmlReturn_t);
typedef nvmlReturn_t (*nvmlSystemGetDriverVersion_fn)(char *, unsigned int);
typedef nvmlReturn_t (*nvmlDeviceGetCount_v2_fn)(unsigned int *);
typedef nvmlReturn_t (*nvmlDeviceGetHandleByIndex_v2_fn)(unsigned int, nvmlDevice_t *);
typedef nvmlReturn_t (*nvmlDeviceGetName_fn)(nvmlDevice_t, char *, unsigned int);
typedef nvmlReturn_t (*nvmlDeviceGetUUID_fn)(nvmlDevice_t, char *, unsigned int);
typedef nvmlReturn_t (*nvmlDeviceGetPowerUsage_fn)(nvmlDevice_t, unsigned int *);
typedef nvmlReturn_t (*nvmlDeviceGetTotalEnergyConsumption_fn)(nvmlDevice_t, unsigned long long *);
typedef nvmlReturn_t (*nvmlDeviceGetFieldValues_fn)(nvmlDevice_t, int, nvmlFieldValue_t *);
typedef nvmlReturn_t (*nvmlDeviceGetSamples_fn)(nvmlDevice_t, int, unsigned long long, int *,
                                                unsigned int *, nvmlSample_t *);
typedef nvmlReturn_t (*nvmlDeviceGetUtilizationRates_fn)(nvmlDevice_t, nvmlUtilization_t *);
typedef nvmlReturn_t (*nvmlDeviceGetClockInfo_fn)(nvmlDevice_t, int, unsigned int *);
typedef nvmlReturn_t (*nvmlDeviceGetTemperature_fn)(nvmlDevice_t, int, unsigned int *);
typedef nvmlReturn_t (*nvmlDeviceGetEnforcedPowerLimit_fn)(nvmlDevice_t, unsigned int *);
typedef nvmlReturn_t (*nvmlDeviceGetPowerManagementDefaultLimit_fn)(nvmlDevice_t, unsigned int *);

typedef nvmlReturn_t (*nvmlDeviceGetProcessUtilization_fn)(nvmlDevice_t,
                                                           nvmlProcessUtilizationSample_t *,
                                                           unsigned int *, unsigned long long);
typedef nvmlReturn_t (*nvmlDeviceGetComputeRunningProcesses_v3_fn)(nvmlDevice_t, unsigned int *,
                                                                   nvmlProcessInfo_t *);

/* Exported only by tests/fake_nvml: a line saying what is being replayed. wattprof uses it to
 * label a replay as a replay, never as a measurement. */
typedef const char *(*fakeNvmlReplayDescription_fn)(void);

#endif
