#!/usr/bin/env nextflow
/*
 * seqgx: how well does a sequence-to-expression model predict each person's expression from their
 * own genome? Each process runs one `seqgx` subcommand; `seqgx run PARAMS` runs the same steps on one
 * machine. The pipeline is workflows/seqgx.nf; here the parameters are checked and the versions kept.
 */
nextflow.enable.dsl = 2

include { SEQGX } from './workflows/seqgx'
include { validateSeqgxParams; checkAwsBatch; logLocalResourceCaps } from './subworkflows/local/utils_seqgx/main'

workflow {
    validateSeqgxParams(file("${projectDir}/nextflow_schema.json"), workflow)
    checkAwsBatch(workflow)
    logLocalResourceCaps(workflow)

    SEQGX()
    SEQGX.out.versions
        .collectFile(name: 'versions.yml', storeDir: "${params.outdir}/pipeline_info", sort: { it.text })
}
